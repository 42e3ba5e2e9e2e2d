"""TwiML documents built with ElementTree: every text and attribute is XML-escaped for us.

Free text (alert summaries, engineer names) goes in as element text, never as markup, so a
summary containing `<break/>` or `&` is spoken or sent literally and cannot inject SSML or
TwiML verbs. Characters XML 1.0 forbids (most control characters) are dropped first, because
ElementTree would write them through and Twilio would reject the whole document.
"""

import re
import xml.etree.ElementTree as ET  # building only; we never parse untrusted XML here

# Characters outside the XML 1.0 `Char` production (C0 controls except tab/LF/CR, surrogates,
# U+FFFE/U+FFFF).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

Element = ET.Element


def xml_safe(text: str) -> str:
    """Drop characters that cannot appear in an XML 1.0 document."""
    return _NOT_XML.sub("", text)


def verb(name: str, text: str | None = None, **attributes: str) -> Element:
    """One TwiML verb (`Say`, `Message`, `Gather` …) with optional text and attributes."""
    element = ET.Element(name, {key: xml_safe(value) for key, value in attributes.items()})
    if text is not None:
        element.text = xml_safe(text)
    return element


def document(*verbs: Element) -> str:
    """A complete TwiML `<Response>` holding `verbs`; `<Response />` when there are none."""
    response = ET.Element("Response")
    response.extend(verbs)
    body = ET.tostring(response, encoding="unicode", short_empty_elements=True)
    return '<?xml version="1.0" encoding="UTF-8"?>' + body
