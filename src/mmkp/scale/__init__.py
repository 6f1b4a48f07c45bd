"""Scale-out on engines users already run: Ray Data for `mmkp prepare --engine ray` and
`mmkp predict --engine ray` (docs/scale.md). Ray is an optional extra, imported only here and
only when a Ray engine runs; torchrun/DDP training lives in `mmkp.training.distributed`."""
