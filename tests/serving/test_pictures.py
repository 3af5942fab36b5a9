"""How pictures cross between the front end and a replica: as files in the shared output folder
(serving/pictures.py), without Ray: what a message holds, what the reader gets back, what is left
in the folder."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from editor.storage import JobFile, OutputStore
from serving import pictures


@dataclass
class Outcome:  # shaped like the Studio's outcomes: pictures, a report, the saved job
    image: Image.Image
    extra: dict
    report: dict
    saved: object = None


def scratch_files(store: OutputStore) -> list[str]:
    return sorted(p.name for p in store.jobs_dir.glob(".scratch-*")) if store.jobs_dir.exists() else []


def picture(seed: int, size=(320, 240), mode="RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    bands = len(Image.new(mode, (1, 1)).getbands())
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], bands), dtype=np.uint8).squeeze(), mode)


def test_a_saved_picture_travels_as_its_path_and_is_read_from_the_file(tmp_path):
    store = OutputStore(tmp_path)
    result = picture(1)
    saved = store.save_job({"task": "edit"}, [JobFile("result", "result.png", image=result)])
    mask = np.linspace(0, 1, 240 * 320, dtype=np.float32).reshape(240, 320)
    packed = pictures.Packing(store, saved).pack(Outcome(result, {"mask": mask}, {"seconds": 1.0}, saved))
    assert len(pickle.dumps(packed)) < 4096  # no pixels in the message
    assert packed.image == pictures.SavedPicture(str(saved.files["result"]))
    assert scratch_files(store) != []  # the mask, not saved by the job, waits as a scratch file
    back = pictures.unpack(packed)
    assert back.image.filename == str(saved.files["result"])  # opened, read when first used
    np.testing.assert_array_equal(np.asarray(back.image), np.asarray(result))
    np.testing.assert_array_equal(back.extra["mask"], mask)
    assert back.report == {"seconds": 1.0} and scratch_files(store) == []  # read, then removed


def test_a_picture_that_only_looks_like_the_saved_one_is_sent_as_its_own_pixels(tmp_path):
    store = OutputStore(tmp_path)
    saved = store.save_job({"task": "edit"}, [JobFile("result", "result.png", image=picture(1))])
    other = picture(2)  # same size, other pixels
    packed = pictures.Packing(store, saved).pack(Outcome(other, {}, {}, saved))
    assert isinstance(packed.image, pictures.FileArray) and packed.image.mode == "RGB"
    back = pictures.unpack(packed)
    assert back.image.mode == "RGB" and np.array_equal(np.asarray(back.image), np.asarray(other))


@pytest.mark.parametrize("mode", ["RGBA", "L", "F"])
def test_pictures_of_every_array_mode_come_back_with_their_mode_and_pixels(tmp_path, mode):
    store = OutputStore(tmp_path)
    image = picture(3, mode="L").convert(mode) if mode == "F" else picture(3, mode=mode)
    back = pictures.unpack(pictures.Packing(store).pack(Outcome(image, {}, {})))
    assert back.image.mode == mode and np.array_equal(np.asarray(back.image), np.asarray(image))


def test_small_values_stay_in_the_message_and_nothing_is_written(tmp_path):
    store = OutputStore(tmp_path)
    small = Outcome(picture(4, size=(40, 30)), {"mask": np.ones((30, 40), np.float32), "names": ["a"]}, {"k": 1})
    assert pictures.Packing(store).pack(small) is small and scratch_files(store) == []


def test_a_request_sent_as_files_stays_for_the_sender_to_remove(tmp_path):
    """The front end's request files are read by the replica (maybe twice: a retry) and removed by
    the front end when the job ends."""
    store = OutputStore(tmp_path)
    photo = np.asarray(picture(5))
    packing = pictures.Packing(store, owned=False)
    sent = packing.pack({"image": photo})
    for _ in range(2):
        np.testing.assert_array_equal(pictures.unpack(sent)["image"], photo)
    assert len(scratch_files(store)) == 1
    packing.discard()
    assert scratch_files(store) == []


def test_the_reader_may_change_what_it_got_without_touching_the_file(tmp_path):
    store = OutputStore(tmp_path)
    sent = pictures.Packing(store, owned=False).pack({"mask": np.zeros((256, 256), np.float32)})
    first = pictures.unpack(sent)["mask"]
    first += 1.0  # copy-on-write
    assert pictures.unpack(sent)["mask"].max() == 0.0


def test_a_failed_packing_leaves_no_file(tmp_path, monkeypatch):
    store = OutputStore(tmp_path)
    calls = []
    real_save = np.save

    def full_disk_on_second(fh, array, allow_pickle=False):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_save(fh, array, allow_pickle=allow_pickle)

    monkeypatch.setattr(np, "save", full_disk_on_second)
    from editor.errors import IntactError

    with pytest.raises(IntactError) as failed:
        pictures.Packing(store).pack({"a": np.zeros((256, 256), np.float32), "b": np.ones((256, 256), np.float32)})
    assert failed.value.key == "disk_full" and str(tmp_path) not in str(failed.value)
    assert scratch_files(store) == []


def test_an_answer_no_one_reads_is_discarded_with_its_files(tmp_path):
    store = OutputStore(tmp_path)
    packed = pictures.Packing(store).pack({"mask": np.zeros((256, 256), np.float32)})
    assert len(scratch_files(store)) == 1
    pictures.discard(packed)
    assert scratch_files(store) == []


def test_an_edits_photo_and_mask_are_read_from_the_request_as_the_job_reads_them(tmp_path):
    """They are the request's: not written anywhere, read by the front end from its own request
    (an RGBA photo loses its alpha, a half-size mask is scaled to the photo, as in the job)."""
    from editor.images import as_mask, load_image
    from editor.studio import EditOutcome

    rgba = np.asarray(picture(6, mode="RGBA"))
    mask = np.zeros((120, 160), np.float32)
    mask[30:90, 40:120] = 1.0

    @dataclass
    class Request:
        image: object
        mask: object

    store = OutputStore(tmp_path)
    loaded = load_image(rgba, field="image")
    job_mask = as_mask(mask, loaded.size)[0]
    outcome = EditOutcome(picture(7), Image.fromarray(loaded.rgb), job_mask, {})
    packed = pictures.pack_answer(outcome, store, "edit")
    assert (packed.before, packed.mask) == (pictures.FromRequest("before"), pictures.FromRequest("mask"))
    back = pictures.unpack(packed, Request(rgba, mask))
    np.testing.assert_array_equal(np.asarray(back.before), loaded.rgb)
    np.testing.assert_array_equal(back.mask, job_mask)
    np.testing.assert_array_equal(np.asarray(back.image), np.asarray(outcome.image))
    assert scratch_files(store) == []
