"""Where a path is: on this machine, or behind a URI (one of Beam's filesystems, or a feed's URL)."""


def is_local(path: str) -> bool:
    """A path on this machine, not a URI such as gs://..., s3://..., mem://... or https://..."""
    return "://" not in path
