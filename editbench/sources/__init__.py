"""Dataset sources: where a benchmark's samples come from.

Every source is a function that the ``dataset`` config group names as its ``_target_`` and that
returns the selected samples (:class:`~editbench.records.Sample`), checked whole before any
model loads. They share one shape:

- the source reads its records (a manifest's lines, a Hugging Face dataset's rows, a
  benchmark's annotation files) and turns each into a sample with :mod:`.fields`, recording
  every problem with the row and field it was found in (:class:`.problems.Problems`);
- :func:`.selection.select` then keeps the samples the run asks for (``categories``,
  ``where``, ``limit``, ``shard``), checks that every ``subsets`` filter names a field the
  samples have, fully decodes the selected samples' images, and raises one
  :class:`~editbench.errors.EditbenchError` listing every problem found.

Sources: :mod:`.manifest` (a folder with ``manifest.jsonl``), :mod:`.hf` (any Hugging Face
dataset through ``datasets``), and the benchmarks whose data is not one table:
:mod:`.imgedit`, :mod:`.kris`, :mod:`.rise`.
"""
