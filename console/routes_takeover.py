"""Console API: takeover (being written)."""
from fastapi import APIRouter

router = APIRouter()
