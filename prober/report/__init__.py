"""`prober report`: SLO, SLA and incident reports over a period, read from Prometheus."""
