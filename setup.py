"""Packaging for sosw: Serverless Orchestrator of Serverless Workers."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
ABOUT: dict = {}
exec((HERE / "sosw" / "_version.py").read_text(), ABOUT)

LOCAL = [
    "moto[server,dynamodb,s3,sns,ssm,cloudformation,events]>=5.0,<6",
]
DEV = LOCAL + [
    "pytest>=7",
    "sphinx>=7",
    "cfn-lint>=1.0",
    "ruff>=0.5",
    "pyyaml>=6",  # the docs read the IAM tables straight from the templates
]

setup(
    name="sosw",
    version=ABOUT["__version__"],
    description="Serverless Orchestrator of Serverless Workers: chunk jobs into tasks and run them on AWS Lambda",
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["sosw", "sosw.*"]),
    package_data={"sosw": ["py.typed"]},
    install_requires=["boto3>=1.26"],
    extras_require={"dev": DEV, "local": LOCAL},
    entry_points={"console_scripts": ["sosw=sosw.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
        "Topic :: System :: Distributed Computing",
    ],
)
