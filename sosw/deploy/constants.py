"""The deployer's names and settings, in one place: stacks, tiers, package contents, placeholders."""

#: The stack of the sosw bucket, where packages are uploaded; deployed first.
BUCKET_STACK = "sosw-s3-bucket"
#: Output of :data:`BUCKET_STACK` that names the bucket.
BUCKET_OUTPUT = "BucketName"
#: Key prefix of the Lambda packages in the sosw bucket: ``sosw/packages/<function>.zip``.
PACKAGES_PREFIX = "sosw/packages/"
#: The templates create named IAM roles.
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]

#: Deployment order. Each tier imports exports of the tiers before it, so cleanup goes the other way round.
TIERS = ("bucket", "initial", "essentials", "rules", "workers")

#: The parts of the ``sosw`` package that never run inside a Lambda.
BUILD_TIME_PARTS = ("local", "cli.py", "_cli_status.py", "deploy", "deployer.py", "scaffold.py", "__main__.py",
                    "_examples", "_templates")

#: Top-level entries of a function folder that stay out of its package: configs travel through the config table
#: (``self.json`` may hold credentials) and tests do not run in Lambda.
NOT_PACKAGED = ("config", "tests", "conftest.py")

#: Environment variable whose change makes Lambda start fresh containers, which read their config again.
RECYCLE_VARIABLE = "SOSW_CONFIG_UPDATED_AT"

#: Placeholder of the account id in the example configs, replaced with the caller's account.
ACCOUNT_PLACEHOLDER = "000000000000"
#: Placeholder of the region in the ARNs of the example configs, replaced with the caller's region.
REGION_PLACEHOLDER = "us-west-2"
