"""Judging protocols: what the judge is asked about each edit, and how its answers make scores.

A protocol (``conf/protocol/``) is a set of calls made per sample; each call has a prompt per
value of a sample field (its category, or a judging variant a benchmark's source sets), shows
some of the sample's images (its sources, the edit, its reference), and its reply gives one
score or several named ones on the prompt's scale. The calls' scores make the sample's score as
the protocol says (mean, min, geometric mean, weights), optionally rescaled (1-5 as 0-100),
and the protocol names the overall figure its benchmark publishes.

- :mod:`.spec`: the protocol as plain data, read from its resolved config;
- :mod:`.requests`: one call's judge conversation for one sample;
- :mod:`.checks`: validation against the samples, before any model loads;
- :mod:`.verdict`: a sample's status, score and criteria from its calls' judgements.
"""
