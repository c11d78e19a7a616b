"""The message contract of entrasync, one module per flow.

- `common`: base classes (`Model`, `Message`, `Request`), the reply envelope (`Reply`,
  `ApiError`, `Page`), `Health`, shared field types and the validators requests share.
- `config`: credential profiles, tenants, the credential handed to syncers, Test Connection.
- `pipeline`: the sync commands and observations between scheduler, syncer and history.
- `scheduler`: `sync_now`.
- `events`: the public CloudEvents (directory changes, `sync.recorded`).
- `history`: the history API's queries and replies.

`entrasync_shared.messages` re-exports every name, so either import path works.
"""
