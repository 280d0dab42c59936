"""Packaging for sosw: Serverless Orchestrator of Serverless Workers."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
ABOUT: dict = {}
exec((HERE / "sosw" / "_version.py").read_text(), ABOUT)

# The Essentials' handlers, templates and configs, and the tutorial Worker: examples/ stays at the top of the
# repository (where users of the original look for it) and is mapped into the package here, so that a wheel or an
# sdist runs `sosw demo`, `sosw local up` and `sosw deploy` from one copy.
EXAMPLES = ["*.py", "**/*.py", "**/*.json", "**/*.yaml", "**/*.txt", "essentials/.config/*.json"]
TEMPLATES = ["_templates/worker/*", "_templates/worker/**/*"]

# 1.35.2: the first botocore that knows S3's IfNoneMatch (the Scheduler's queue lock) and well past 1.31, the first
# that reads AWS_ENDPOINT_URL (the embedded runtime's only way in). tests/integration/test_min_deps.py runs against it.
BOTO3_FLOOR = "1.35.2"

LOCAL = [
    "moto[server,dynamodb,s3,sns,ssm,cloudformation,events]>=5.0,<6",
]
DEV = LOCAL + [
    "pytest>=7",
    "sphinx>=7",
    "cfn-lint>=1.0",
    "ruff>=0.5",
    "pyyaml>=6",  # the docs read the IAM tables straight from the templates
    "wheel",  # tests/integration/test_wheel.py builds the wheel offline (no build isolation)
    "mypy>=1.10",  # make test type-checks the package
    "boto3-stubs[dynamodb,s3,lambda,sns,ssm,secretsmanager,cloudwatch,sts,cloudformation,events,sqs]",
]

setup(
    name="sosw",
    version=ABOUT["__version__"],
    description="Serverless Orchestrator of Serverless Workers: chunk jobs into tasks and run them on AWS Lambda",
    long_description=(HERE / "README.rst").read_text(),
    long_description_content_type="text/x-rst",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["sosw", "sosw.*"]) + ["sosw._examples"],
    package_dir={"sosw._examples": "examples"},
    package_data={"sosw": ["py.typed", *TEMPLATES], "sosw._examples": EXAMPLES},
    install_requires=[f"boto3>={BOTO3_FLOOR}", f"botocore>={BOTO3_FLOOR}"],
    extras_require={"dev": DEV, "local": LOCAL},
    entry_points={"console_scripts": ["sosw=sosw.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Typing :: Typed",
        "Topic :: System :: Distributed Computing",
    ],
)
