"""SLOs from agent.yaml: the objectives, the Prometheus rules that record and alert on them, and the rule
file formats (`prober rules`)."""
