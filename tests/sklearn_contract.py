"""The scikit-learn contract every estimator of the package meets: `check_estimator` passes,
and only the checks scikit-learn itself skips here (pandas and the array API) are skipped."""
import warnings

from sklearn.utils.estimator_checks import check_estimator

ALLOWED_SKIPS = {"check_array_api_input", "check_classifier_data_not_an_array",
                 "check_regressor_data_not_an_array"}


def assert_passes_check_estimator(est):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed, failed
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= ALLOWED_SKIPS, skipped
