"""The room page in Spanish (docs/client.md "Languages"): chosen by the `lang` URL parameter, or by
the browser's language without it; English stays the default (the other e2e tests rely on it)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.e2e.flows import guest_url, host_url, in_meeting, join, knock_item, knock_state


def test_lang_es_puts_the_join_view_and_the_meeting_in_spanish(server, new_page):
    room = server.create_room(roomName="Sala", isLocked=True)
    host = new_page(host_url(room) + "&lang=es")
    expect(host.get_by_test_id("join")).to_have_text("Unirse a la reunión")
    expect(host.locator("#join-title")).to_have_text("¿Listo para entrar?")
    expect(host.locator("#join-role")).to_have_text("Anfitrión")
    expect(host.get_by_test_id("display-name")).to_have_attribute("placeholder", "Cómo te verán los demás")
    expect(host.get_by_test_id("preview-mic")).to_have_attribute("title", "Apagar el micrófono")
    expect(host.get_by_test_id("preview-camera")).to_have_attribute("title", "Apagar la cámara")
    assert host.evaluate("document.documentElement.lang") == "es"
    join(host, "Hana")
    in_meeting(host, tiles=1)
    expect(host.get_by_test_id("toggle-mic")).to_have_attribute("title", "Silenciar el micrófono")
    expect(host.get_by_test_id("toggle-camera")).to_have_attribute("aria-label", "Apagar la cámara")
    expect(host.get_by_test_id("leave")).to_have_attribute("title", "Salir de la reunión (los demás se quedan)")
    expect(host.locator("#leave .label")).to_have_text("Salir")
    expect(host.get_by_test_id("tile").locator(".name")).to_have_text("Hana (tú)")
    expect(host.locator(".toast .msg").first).to_have_text("Entraste en Sala.")

    # A guest whose browser speaks Spanish (no parameter) knocks; the Spanish host lets them in.
    guest = new_page(guest_url(room), locale="es-ES")
    expect(guest.get_by_test_id("join")).to_have_text("Unirse a la reunión")
    join(guest, "Gus")
    knock_state(guest, "waiting")
    expect(guest.locator("#waiting-title")).to_have_text("Sala de espera")
    expect(guest.get_by_test_id("cancel-knock")).to_have_text("Cancelar")
    expect(host.locator("#knock-panel-title")).to_have_text("Esperando para entrar")
    expect(host.get_by_test_id("toggle-people")).to_have_attribute("title", "Personas (1 esperando)")
    admit = knock_item(host, "Gus").get_by_test_id("admit")
    expect(admit).to_have_text("Dejar entrar")
    admit.click()
    in_meeting(guest, tiles=2)
    expect(guest.get_by_test_id("toggle-mic")).to_have_attribute("title", "Silenciar el micrófono")
    guest.get_by_test_id("leave").click()
    expect(guest.locator("#end-title")).to_have_text("Saliste de la reunión")
    expect(guest.get_by_test_id("rejoin")).to_have_text("Volver a entrar")
    assert host.errors == [] and guest.errors == []


def test_the_browser_language_picks_spanish_and_lang_overrides_it(server, new_page):
    room = server.create_room(roomName="Locale")
    spanish = new_page(guest_url(room), locale="es-ES")
    expect(spanish.get_by_test_id("join")).to_have_text("Unirse a la reunión")
    expect(spanish.locator("#join-role")).to_have_text("Invitado")
    expect(spanish.locator("label[for=display-name]")).to_have_text("Tu nombre")
    assert spanish.evaluate("document.documentElement.lang") == "es"
    expect(spanish.locator("label[for=mic-select]")).to_have_text("Micrófono")

    english = new_page(guest_url(room) + "?lang=en", locale="es-ES")
    expect(english.get_by_test_id("join")).to_have_text("Join meeting")
    expect(english.get_by_test_id("preview-mic")).to_have_attribute("title", "Turn microphone off")
    default = new_page(guest_url(room))  # en-US, the test browsers' default
    expect(default.locator("#join-title")).to_have_text("Ready to join?")
    assert default.evaluate("document.documentElement.lang") == "en"
