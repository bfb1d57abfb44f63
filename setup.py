"""pip install of the library and the partnner command, for use without ROS.

What works from a pip install: partnner_ros.core (model splitting, codecs,
policies, the simulator, the multi-device planner) and the commands built on it
alone: models, profile, verify, simulate, report, plan and plan-bench.

What does not: nodes/, system/ and testbed/, and the demo, bench and pipeline
commands. They need rclpy and the package's own messages (partnner_ros.msg),
which only a colcon build of CMakeLists.txt generates; the command says so when
they are missing. ROS 2 users build the whole package with colcon (``./run`` does
it here); colcon does not use this file.
"""

from setuptools import find_packages, setup

setup(
    name='partnner_ros',
    version='0.1.0',
    description='Adaptive edge/cloud split inference for vision DNNs (PArtNNer): the library and the '
                'partnner command (the ROS 2 nodes need a colcon build)',
    license='Apache-2.0',
    python_requires='>=3.10',
    packages=find_packages(include=['partnner_ros', 'partnner_ros.*']),
    install_requires=[
        'torch>=2.1',
        'torchvision>=0.16',
        'numpy',
        'opencv-python-headless',
        'lz4',
        'zstandard',
        'PyYAML',
        'matplotlib',
    ],
    extras_require={'yolo': ['ultralytics>=8.3']},
    entry_points={'console_scripts': ['partnner = partnner_ros.cli:main']},
)
