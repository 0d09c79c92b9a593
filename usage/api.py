"""POST /api/usage/collect: the cron door into the nightly collection."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clusters.models import Cluster
from config.cron import cron_denial
from usage.services import UsageDayRefused, usage_collect_enqueue, usage_day_check


class UsageCollectApi(APIView):
    """Enqueue one collection task per cluster for a day (default yesterday). Authenticated by
    `Authorization: Bearer <CRON_SECRET>`; answers 202 with the task ids."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer):
        date = serializers.DateField(required=False)
        cluster = serializers.IntegerField(required=False, min_value=1)

        def validate_date(self, value):
            try:
                usage_day_check(day=value)
            except UsageDayRefused as exc:
                raise serializers.ValidationError(str(exc)) from exc
            return value

        def validate_cluster(self, value):
            if not Cluster.objects.filter(pk=value).exists():
                raise serializers.ValidationError("No such cluster.")
            return value

    @extend_schema(
        request=InputSerializer,
        responses={
            202: inline_serializer(
                "UsageCollectQueued",
                {
                    "tasks": serializers.ListField(
                        child=inline_serializer(
                            "UsageCollectTask",
                            {
                                "cluster": serializers.IntegerField(),
                                "date": serializers.DateField(),
                                "task_id": serializers.CharField(),
                            },
                        )
                    )
                },
            )
        },
        auth=[],
    )
    def post(self, request):
        if denied := cron_denial(request):
            return denied
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tasks = usage_collect_enqueue(
            day=data.validated_data.get("date"), cluster_id=data.validated_data.get("cluster")
        )
        return Response({"tasks": tasks}, status=status.HTTP_202_ACCEPTED)
