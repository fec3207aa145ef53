import numpy as np

from visionlab.toy.shapes import COLOUR_NAMES, SHAPES, make_batch, make_scene, make_single, mask_to_box


def test_same_seed_same_picture_and_streams_differ():
    a, b = make_single(1, 5), make_single(1, 5)
    assert np.array_equal(a.image, b.image) and a.label == b.label
    assert not np.array_equal(make_single(1, 5).image, make_single(2, 5).image)


def test_enough_variety():
    assert len(SHAPES) >= 6 and len(COLOUR_NAMES) >= 6
    images, labels = make_batch(11, 0, 300)
    assert images.shape == (300, 64, 64, 3) and images.dtype == np.uint8
    assert set(labels.tolist()) == set(range(len(SHAPES)))
    colours = {int(make_single(11, i).colour_ids[0]) for i in range(300)}
    assert colours == set(range(len(COLOUR_NAMES)))


def test_single_object_is_visible_and_coloured():
    for i in range(20):
        s = make_single(4, i)
        m = s.masks[0]
        assert m.sum() > 40                       # not a speck
        inside = s.image[m].astype(float).mean(0)
        outside = s.image[~m].astype(float).mean(0)
        assert np.abs(inside - outside).max() > 25  # the shape stands out from the background


def test_scene_boxes_and_masks_agree():
    for i in range(30):
        s = make_scene(9, i, size=128, max_objects=5)
        n = len(s.boxes)
        assert 1 <= n <= 5
        assert s.masks.shape == (n, 128, 128) and s.shape_ids.shape == (n,) and s.colour_ids.shape == (n,)
        for box, mask in zip(s.boxes, s.masks):
            assert tuple(box) == mask_to_box(mask)
            assert box[2] > box[0] and box[3] > box[1]
        # visible masks never overlap
        assert (s.masks.sum(0) <= 1).all()


def test_ring_has_a_hole():
    s = make_single(3, 0, size=128, shape=SHAPES.index("ring"))
    x0, y0, x1, y1 = s.boxes[0].astype(int)
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    assert not s.masks[0][cy, cx]
