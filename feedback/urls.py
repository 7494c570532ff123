"""The feedback book on the member site, the survey, and the public "You said, we did" page."""

from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("feedback/", views.feedback_book, name="book"),
    path("feedback/new/", views.feedback_new, name="new"),
    path("feedback/<int:pk>/", views.feedback_item, name="item"),
    path("survey/", views.survey, name="survey"),
    path("you-said-we-did/", views.you_said_we_did, name="public"),
]
