"""Uploading pre-annotations to SuperAnnotate with the official SDK, safely and repeatably."""
