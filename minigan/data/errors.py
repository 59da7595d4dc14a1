"""The one exception the data pipeline raises for data it cannot get or trust."""


class DatasetError(RuntimeError):
    """A data set could not be downloaded, extracted, or read safely."""
