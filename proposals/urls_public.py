from django.urls import path

from proposals.views import public

app_name = "public"

urlpatterns = [
    path("<str:token>", public.proposal_page, name="proposal"),
    path("<str:token>/accept", public.proposal_accept, name="accept"),
    path("<str:token>/decline", public.proposal_decline, name="decline"),
]
