"""What crosses the link: codecs and their limits, feature checks, and frames in flight."""
