"""Anchors: the figures and names editions of one story share across languages and scripts."""

from __future__ import annotations

import pytest

from newswatch.anchors import anchors, evidence, key_weights, name_key, numbers_conflict


@pytest.mark.parametrize("spellings", [
    ("Pashinyan", "Пашинян", "Փաշինյան", "Paşinyan", "ფაშინიანი", "Пашиняном"),
    ("Badalyan", "Бадалян", "Բադալյանը", "Бадаляна"),
    ("Minsk", "Минске", "Մինսկում", "Minskdə"),
    ("Yerevan", "Ереван", "Երևան", "İrəvan", "ერევანი"),
    ("Zakharova", "Захарова", "Zaxarova"),
    ("Aliyev", "Алиев", "Ալիեւ", "Əliyev", "ალიევი"),
])
def test_one_name_in_five_scripts_and_its_case_forms_has_one_key(spellings):
    assert len({name_key(word) for word in spellings}) == 1, [name_key(w) for w in spellings]


def test_different_names_have_different_keys():
    assert len({name_key(w) for w in ("Pashinyan", "Aliyev", "Minsk", "Yerevan", "Tbilisi", "Moscow")}) == 6


def test_anchors_are_figures_and_names_not_common_words():
    english = anchors("Armenia will skip the CSTO meeting in Minsk on June 12, spokesperson Ani Badalyan said")
    russian = anchors("Армения не примет участия в заседании ОДКБ 12 июня в Минске, сообщила Ани Бадалян")
    assert {"#12", name_key("Minsk"), name_key("Badalyan"), name_key("Armenia")} <= english & russian
    assert name_key("meeting") not in english  # lower case: not a name
    georgian = anchors("რაჭაში 4.1 მაგნიტუდის მიწისძვრა მოხდა")  # no case: every word counts
    assert {"#4", "#1", name_key("რაჭაში")} <= georgian


def test_figures_that_disagree_conflict():
    monday = anchors("On June 18 border guards prevented 3 attempts to smuggle drugs")
    tuesday = anchors("19 июня пограничники предотвратили 2 попытки контрабанды наркотиков")
    same_day = anchors("18 июня пограничники предотвратили 3 попытки контрабанды наркотиков")
    assert numbers_conflict(monday, tuesday)
    assert not numbers_conflict(monday, same_day)
    longer_lede = anchors("18 июня пограничники предотвратили 3 попытки, изъято 17 кг, задержаны 2 человека")
    assert not numbers_conflict(monday, longer_lede)  # more figures in one edition's lede
    times = anchors("On June 12, from 22:40 to 23:15, units fired at positions")
    next_night = anchors("13 июня с 23:10 до 23:35 подразделения обстреляли позиции")
    assert numbers_conflict(times, next_night)  # one figure in common (23) is not enough
    assert not numbers_conflict(monday, anchors("Пограничники предотвратили попытки контрабанды"))  # no figures


def test_evidence_counts_rare_keys_more_than_common_ones():
    founders = [{"rmn", "zrb", f"name{n}"} for n in range(200)] + [{"rmn", "zrb", "psn", "#35"}]
    weights = key_weights(founders)
    assert evidence({"rmn", "zrb"}, founders[-1], weights) < 1.5
    assert evidence({"psn", "#35"}, founders[-1], weights) > 10
