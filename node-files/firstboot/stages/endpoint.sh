#: Stage endpoint (the first master, HA): success only once the load balancer forwards to it.
# HA: the first master reports success only once the load balancer forwards to it, so a
# "complete" sentinel means workers can join through the endpoint.
stage_endpoint() {
  wait_for_urls "$CONFIRM_URLS"
}

