"""Components: thin, typed wrappers of the AWS services sosw uses, and helpers."""
