"""The ROS-free library: everything but the nodes, in one subpackage per concern.

- :mod:`.model`: the split-model library (models, their layer graph, costs, profiles)
- :mod:`.vision`: camera frames in, model input and results out
- :mod:`.wire`: what crosses the link (codecs, limits, feature checks, frames in flight)
- :mod:`.adaptation`: estimators and policies that pick the split (no torch)
- :mod:`.simulation`: link traces and the trace-driven simulator
- :mod:`.multidevice`: one model as a pipeline over several devices
"""
