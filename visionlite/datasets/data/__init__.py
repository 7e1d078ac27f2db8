"""Data files shipped with visionlite.datasets (a package so that installs include them)."""
