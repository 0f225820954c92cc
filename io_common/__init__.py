"""What both shells share on the I/O side: neither `sync_io` nor `async_io`, below both.

`tls` builds ssl contexts, `files` reads local files for the ``file://`` transports,
`tape` reads and writes record/replay files, `world` installs the real clock, entropy and
environment for the core, `memory` primes the C allocator for large reads. Each is
blocking OS work that is quick or done once (an async shell may call it). Rules: this
package imports `sansio` and the standard library only, never a shell; `async_io`
imports it, never `sync_io` (tests/test_layers.py checks both).
"""
