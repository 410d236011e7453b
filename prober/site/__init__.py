"""`prober site`: a static service health site across regions, built from the agents' counters in Prometheus."""
