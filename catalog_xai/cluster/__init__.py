"""The Ray layer: the shard actor and its pool, the survey run (claim, resume, summary), Ray Train."""
