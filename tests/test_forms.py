"""The one form helper (wm/forms.py): refusals land on their fields, and a form is never replaced by an error page."""

from __future__ import annotations

import pytest
from flask import render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField

from tests.fixtures.apps import app_config, csrf_token, post_form
from tests.fixtures.media import make_clip, upload_file
from tests.fixtures.users import log_in, make_user
from wm import create_app
from wm.extensions import db
from wm.forms import form_status, form_view, submit
from wm.models.media import Video
from wm.services import DomainError, DomainErrors

PET_FORM = ('{% from "_form.html" import field, form_errors %}<form id="pet">{{ form.hidden_tag() }}'
            "{{ form_errors(form) }}{{ field(form.name) }}{{ field(form.species) }}</form>")


class PetForm(FlaskForm):
    name = StringField("Name")
    species = StringField("Species")


def adopt(name: str, species: str) -> str:
    """A stand-in service that refuses the way real ones do."""
    if species == "shelter":
        raise DomainError("The shelter is closed.")
    problems = [DomainError("Rex is taken.", "name")] if name == "Rex" else []
    if species == "dragon":
        problems.append(DomainError("No dragons.", "species"))
    if problems:
        raise problems[0] if len(problems) == 1 else DomainErrors(problems)
    return name


@pytest.fixture
def pet_client(app, mysql_url):
    pet_app = create_app(app_config(mysql_url))

    @pet_app.route("/_test/pet", methods=["GET", "POST"])
    @form_view
    def pet():
        form = PetForm()
        if submit(form, lambda: adopt(form.name.data, form.species.data)).ok:
            return "adopted"
        return render_template_string(PET_FORM, form=form), form_status(form)

    return pet_app.test_client()


def field_errors(html: str, field: str) -> str:
    return html.split(f'for="{field}"', 1)[1].split("</div>", 1)[0]


def test_a_domain_error_lands_on_the_field_it_names(pet_client):
    response = post_form(pet_client, "/_test/pet", {"name": "Rex", "species": "cat"}, page="/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Rex is taken." in field_errors(html, "name") and 'value="Rex"' in html


def test_several_domain_errors_each_land_on_their_field(pet_client):
    response = post_form(pet_client, "/_test/pet", {"name": "Rex", "species": "dragon"}, page="/login")
    html = response.get_data(as_text=True)
    assert "Rex is taken." in field_errors(html, "name") and "No dragons." in field_errors(html, "species")


def test_an_error_naming_no_field_shows_above_the_form(pet_client):
    html = post_form(pet_client, "/_test/pet", {"name": "Tom", "species": "shelter"}, page="/login").get_data(
        as_text=True)
    assert html.index("The shelter is closed.") < html.index('for="name"')


def test_an_expired_token_shows_the_same_form_with_its_values(pet_client):
    response = pet_client.post("/_test/pet", data={"name": "Tom", "species": "cat", "csrf_token": "stale"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="pet"' in html and 'value="Tom"' in html and "submit it again" in html
    assert pet_client.post("/_test/pet", data={"name": "Tom", "species": "cat",
                                               "csrf_token": csrf_token(pet_client, "/login")}).data == b"adopted"


def test_studio_edit_uses_the_form_helper(app, clip_dir):
    creator = make_user(app, role="creator")
    public_id = upload_file(app, creator, make_clip(clip_dir, "no_audio", 4))
    client = app.test_client()
    log_in(client, creator.handle)
    client.get("/studio/")
    response = client.post(f"/studio/videos/{public_id}/edit", data={
        "title": "My typed title", "description": "Typed words.", "visibility": "published",
        "access_tier": "free", "csrf_token": "expired"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="video-form"' in html and 'value="My typed title"' in html and "Typed words." in html
    assert "submit it again" in html


def test_an_expired_form_for_someone_else_s_video_is_not_found_not_a_crash(app, creator_client):
    # the form view runs again inside the CSRF error handler; its refusal must still become a page
    other = make_user(app, role="creator")
    with app.app_context():
        video = Video(public_id="notyours001", owner_id=other.id, title="Theirs")
        db.session.add(video)
        db.session.commit()
    response = creator_client.post("/studio/videos/notyours001/edit", data={"title": "mine", "csrf_token": "stale"})
    assert response.status_code == 404 and "No such video." in response.get_data(as_text=True)
