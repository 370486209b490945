"""archiveprint: the paper health-record archive room of a township health centre (居民健康档案室)."""

__version__ = "0.1.0"
