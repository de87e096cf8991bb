"""Performance comparisons of cvlayers against baselines measured in the same process."""
