"""The conformance suite sparsebench ships, run on this package's plugins (the plugin guide's last step)."""

from sparsebench_example.olid import Olid
from sparsebench_example.shout import Shout
from sparsebench_example.words_nb import WordsNB

from sparsebench.testing import check_classifier, check_declared_parameters, check_generator


def test_conformance():
    check_generator(Shout)
    check_classifier(WordsNB)
    check_declared_parameters(Olid)
