import codecs

from adapters.toolkit.text import EncodingSniffer, sniff_bytes


def test_plain_utf8():
    assert sniff_bytes("Bayview Café,1\n".encode()).codec == "utf-8"


def test_utf8_bom_is_stripped_by_the_codec():
    enc = sniff_bytes(codecs.BOM_UTF8 + b"ContactName\n")
    assert enc.codec == "utf-8-sig"
    assert (codecs.BOM_UTF8 + b"ContactName").decode(enc.codec) == "ContactName"


def test_windows_1252_is_not_latin1():
    data = "O’Brien – Café".encode("cp1252")
    enc = sniff_bytes(data)
    assert enc.codec == "cp1252"
    assert data.decode(enc.codec) == "O’Brien – Café"


def test_utf16_with_bom():
    assert sniff_bytes("a,b\n".encode("utf-16")).codec == "utf-16"


def test_undecidable_bytes_have_a_reason():
    enc = sniff_bytes(b"abc\x81\xff\n")
    assert enc.codec is None
    assert "neither UTF-8 nor Windows-1252" in enc.problem


def test_binary_is_binary():
    assert sniff_bytes(b"PK\x03\x04\x00\x00").binary


def test_a_multibyte_character_split_across_chunks_is_still_utf8():
    data = "é".encode()
    sniffer = EncodingSniffer()
    sniffer.feed(b"abc" + data[:1])
    sniffer.feed(data[1:] + b"\n")
    assert sniffer.result().codec == "utf-8"


def test_a_utf8_marker_with_bad_bytes_is_refused():
    enc = sniff_bytes(codecs.BOM_UTF8 + b"abc\xe9\n")
    assert enc.codec is None
    assert "UTF-8 marker" in enc.problem


def test_a_utf16_file_cut_in_the_middle_of_a_character_is_refused_with_a_reason():
    data = "ContactName,Total\nCafé,1.00\n".encode("utf-16")
    enc = sniff_bytes(data[:-1])
    assert enc.codec is None and "UTF-16" in enc.problem
    assert sniff_bytes(data).codec == "utf-16"
