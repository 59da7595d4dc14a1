"""The exception the data pipeline raises for data it cannot get or trust, and its one special case."""


class DatasetError(RuntimeError):
    """A data set could not be downloaded, extracted, or read safely."""


class NotAZipArchive(DatasetError):
    """A file expected to be a zip archive that is none, or no longer whole (truncated)."""
