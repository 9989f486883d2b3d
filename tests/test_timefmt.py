import pytest

from skyfleet.timefmt import utc_offset_label


@pytest.mark.parametrize("seconds,label", [(0, "+00:00"), (-18000, "-05:00"), (19800, "+05:30"),
                                           (-16200, "-04:30"), (3600, "+01:00"), (-1800, "-00:30")])
def test_utc_offset_label(seconds, label):
    assert utc_offset_label(seconds) == label
