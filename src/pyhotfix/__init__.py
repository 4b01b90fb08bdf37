"""pyhotfix: build, publish and deploy hotfixed versions of third-party Python packages."""

__version__ = "0.1.0"
