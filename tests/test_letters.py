"""Generated letters: the promised shapes, dtypes, ranges and order, repeatable, and folders ImageFolder reads."""
import torch
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from course_utils.letters import LETTERS, make_letters, write_letter_folders


def test_make_letters_shapes_range_and_class_order():
    images, labels = make_letters(3, seed=0)
    assert images.shape == (30, 1, 28, 28) and images.dtype == torch.float32
    assert labels.dtype == torch.int64 and labels.tolist() == [k for k in range(10) for _ in range(3)]
    assert images.min() >= 0 and images.max() <= 1
    assert (images.flatten(1).max(dim=1).values > 0.5).all()  # every image holds a bright letter


def test_make_letters_is_repeatable_and_seeds_differ():
    first, _ = make_letters(2, seed=5)
    again, _ = make_letters(2, seed=5)
    other, _ = make_letters(2, seed=6)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_make_letters_refuses_a_bad_count():
    for bad in (-1, 2.5):
        try:
            make_letters(bad)
        except ValueError as error:
            assert "per_class" in str(error)
        else:
            raise AssertionError(f"make_letters({bad}) did not raise")


def test_write_letter_folders_gives_the_same_letters_to_image_folder(tmp_path):
    root = write_letter_folders(tmp_path / "letters", per_class=2, seed=1)
    dataset = ImageFolder(root, transform=v2.Compose([v2.Grayscale(), v2.ToImage(),
                                                      v2.ToDtype(torch.float32, scale=True)]))
    images, labels = make_letters(2, seed=1)
    assert dataset.classes == list(LETTERS) and len(dataset) == 20
    loaded = torch.stack([dataset[i][0] for i in range(len(dataset))])
    assert torch.equal(torch.tensor(dataset.targets), labels)
    assert torch.allclose(loaded, images, atol=1 / 255)  # 8-bit PNG, RGB and back to gray
