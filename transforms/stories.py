"""Stories stage: `story_id` groups the kept articles that report the same event."""

from __future__ import annotations

import dataclasses

import apache_beam as beam

STAGE = "stories"


class AssignStories(beam.PTransform):
    """For now each kept article is its own story: the id of its dedup group's keeper."""

    def expand(self, articles):
        return articles | "OwnStory" >> beam.Map(lambda a: dataclasses.replace(a, story_id=a.id))
