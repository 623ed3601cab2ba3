"""Batch jobs over whole files, in this process or on a Ray cluster (a layer above ``serve``,
below ``cli``).

A job splits its input into shards of records, runs one function per shard with the model loaded
once per worker, and writes the results in input order.  Two engines run the shards:

* ``local`` (the default): this process, one shard after another;
* ``ray`` (``pip install 'prefkit[ray]'``): Ray Data ``map_batches`` over an actor pool, one
  model per actor, CPU fractions sized to the cluster so that Ray's own tasks are never starved.

Both write the same output (tests/jobs checks equality).  A job is resumable: each finished
shard is kept in ``OUT.parts/`` under its content hash (model digest + shard records), a
restarted job skips the shards already there, and the parts are joined into ``OUT`` atomically
at the end.  :mod:`prefkit.choice.shards` counts huge battle logs the same way.

* :mod:`prefkit.jobs.parts` — shards, content hashes, the resumable parts directory;
* :mod:`prefkit.jobs.engines` — the local and Ray engines;
* :mod:`prefkit.jobs.score` — ``prefkit rm score``: per-record rewards and P(a ≻ b);
* :mod:`prefkit.jobs.encode` — ``prefkit rm encode``: embeddings of both responses;
* :mod:`prefkit.jobs.judge` — ``prefkit jobs judge``: pairwise judgments by any judge backend;
* :mod:`prefkit.jobs.generate` — ``prefkit jobs generate``: responses of a local causal LM.
"""
