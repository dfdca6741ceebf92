#: Stage keeper (the first master): start the bootstrap token keeper's timer.
stage_keeper() {
  # Always started: the keeper itself exits when TOKEN_TTL=0.
  run systemctl enable --now "$KEEPER_TIMER" || die "cannot start $KEEPER_TIMER: the bootstrap token would expire before every node joined"
}

