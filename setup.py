"""pip install of the ROS-free part: the split-model core and the partnner CLI.

ROS 2 users build the whole package (messages, nodes, launch files) with colcon
from CMakeLists.txt instead; this file is not used by colcon.
"""

from setuptools import find_packages, setup

setup(
    name='partnner_ros',
    version='0.1.0',
    description='Adaptive edge/cloud split inference for vision DNNs (PArtNNer), ROS-free core and CLI',
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
