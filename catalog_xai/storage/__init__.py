"""The storage layer: object storage, retries, shards, checkpoints, the commit protocol,
validation and release.  Everything that touches a file or a bucket lives here."""

from .checkpoints import (
                          BUILTIN_CHECKPOINTS,
                          DEFAULT_BAR_CHECKPOINT,
                          DEFAULT_CHECKPOINT,
                          MANIFEST,
                          MANIFEST_FORMAT,
                          builtin_checkpoint_path,
                          ensemble_hash,
                          load_ensemble,
                          read_manifest,
                          resolve_checkpoint,
                          save_ensemble,
)
from .commits import (
                          COMMITS,
                          JOB_MANIFEST,
                          NOT_IN_CONFIG_HASH,
                          ConfigMismatch,
                          claim_output,
                          commit_shard,
                          committed_outputs,
                          config_hash,
)
from .objects import (
                          RETRY_ATTEMPTS,
                          RetriesExhausted,
                          RetryingReader,
                          absolute,
                          check_storage_options,
                          filesystem,
                          is_transient,
                          join,
                          redact,
                          with_retries,
                          write_json,
                          write_table_atomic,
)
from .shards import (
                          ShardError,
                          check_input_schema,
                          count_rows,
                          list_shards,
                          open_shard,
                          output_path,
                          read_survey,
                          relative_name,
)

__all__ = [
    "BUILTIN_CHECKPOINTS", "DEFAULT_BAR_CHECKPOINT", "DEFAULT_CHECKPOINT", "MANIFEST", "MANIFEST_FORMAT",
    "builtin_checkpoint_path",
    "ensemble_hash", "load_ensemble", "read_manifest", "resolve_checkpoint", "save_ensemble", "COMMITS", "JOB_MANIFEST",
    "NOT_IN_CONFIG_HASH", "ConfigMismatch", "claim_output", "commit_shard", "committed_outputs", "config_hash",
    "RETRY_ATTEMPTS", "RetriesExhausted", "RetryingReader", "absolute", "check_storage_options", "filesystem",
    "is_transient", "join", "redact", "with_retries", "write_json", "write_table_atomic", "ShardError",
    "check_input_schema", "count_rows", "list_shards", "open_shard", "output_path", "read_survey", "relative_name",
]
