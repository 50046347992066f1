"""Operations: the scheduler, its process, the leader lock and background jobs."""
