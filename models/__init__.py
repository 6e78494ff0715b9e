"""Native model definitions and their pre/post-processing (no compression here)."""
