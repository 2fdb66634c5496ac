"""Reference numbers: unambiguous alphabet, and the check character catches typing slips."""
from __future__ import annotations

from booking import reference

SAMPLE = [reference.new_reference() for _ in range(50)]


def test_shape_and_alphabet():
    assert not set("0O1IZ") & set(reference.ALPHABET)
    for ref in SAMPLE:
        assert len(ref) == 7 and set(ref) <= set(reference.ALPHABET) and reference.is_valid(ref)
    assert len(set(SAMPLE)) == len(SAMPLE)


def test_every_single_substitution_is_caught():
    for ref in SAMPLE:
        for i, original in enumerate(ref):
            for c in reference.ALPHABET.replace(original, ""):
                assert not reference.is_valid(ref[:i] + c + ref[i + 1:])


def test_every_swap_of_two_characters_is_caught():
    for ref in SAMPLE:
        for i in range(len(ref)):
            for j in range(i + 1, len(ref)):
                if ref[i] != ref[j]:
                    assert not reference.is_valid(
                        ref[:i] + ref[j] + ref[i + 1:j] + ref[i] + ref[j + 1:])


def test_typed_forms_normalise():
    ref = SAMPLE[0]
    assert reference.is_valid(f" {ref[:3].lower()} - {ref[3:]} ")
    assert not reference.is_valid(ref + "2") and not reference.is_valid("")
