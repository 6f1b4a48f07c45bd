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


def test_smoothing_stops_on_the_moving_average_and_keeps_the_best_raw_epoch():
    """F1 that dips for two epochs: patience 2 on raw values stops at the dip; on the mean
    of the last 3 epochs it goes on, and the best raw epoch is still the one kept."""
    values = [20.0, 24.0, 23.0, 22.5, 25.0, 24.0, 24.0, 23.0, 22.0]
    raw = EarlyStopping("F1@1", patience=2)
    for epoch, value in enumerate(values, 1):
        raw.update(value, epoch)
        if raw.should_stop:
            break
    assert epoch == 4 and raw.best_epoch == 2
    smooth = EarlyStopping("F1@1", patience=2, smoothing=3)
    improved = []
    for epoch, value in enumerate(values, 1):
        improved.append(smooth.update(value, epoch))
        if smooth.should_stop:
            break
    # means: 20, 22, 22.33, 23.17, 23.5, 23.83, 24.33, 23.67, 23.0 -> stops after epoch 9
    assert epoch == 9 and smooth.best_epoch == 5 and smooth.best == 25.0
    assert improved == [True, True, False, False, True, False, False, False, False]
    assert EarlyStopping.from_dict(smooth.to_dict()) == smooth
