"""A team's own model, task and recipe, benchmarked by compbench without editing it."""
