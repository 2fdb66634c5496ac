"""Console API: auth (being written)."""
from fastapi import APIRouter

router = APIRouter()
