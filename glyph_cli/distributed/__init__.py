"""Rendering beyond one machine. ray_data.py: Ray Data (optional extra `ray`); docs/CLUSTER.md."""
