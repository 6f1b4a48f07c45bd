from mmkp.training.early_stopping import EarlyStopping


def test_loss_is_minimised_and_patience_counts_epochs_without_improvement():
    stopper = EarlyStopping("loss", patience=2)
    improved = [stopper.update(v, e) for e, v in enumerate([3.0, 2.0, 2.0, 2.5, 1.0], 1)]
    assert improved == [True, True, False, False, True]
    assert (stopper.best, stopper.best_epoch, stopper.bad_epochs) == (1.0, 5, 0)
    stopper.update(1.5, 6)
    assert not stopper.should_stop
    stopper.update(1.5, 7)
    assert stopper.should_stop


def test_metrics_are_maximised_and_state_round_trips():
    stopper = EarlyStopping("F1@1", patience=3)
    assert [stopper.update(v, e) for e, v in enumerate([10.0, 12.5, 11.0], 1)] == [
        True,
        True,
        False,
    ]
    restored = EarlyStopping.from_dict(stopper.to_dict())
    assert restored == stopper
    assert (restored.best, restored.best_epoch, restored.bad_epochs) == (12.5, 2, 1)
