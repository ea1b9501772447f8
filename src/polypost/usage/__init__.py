"""`/v1/usage`: a workspace's activity and resource use over a period."""
