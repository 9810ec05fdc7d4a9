// SPDX-License-Identifier: GPL-2.0
/*
 * af_ib RDMA device tracking.
 *
 * An ib_client gives every RDMA device a struct afib_dev holding the
 * protection domain its sockets share.  Sockets attach when they create a
 * QP and take a reference.  Removal marks the device dead, kills every
 * socket attached to it (each fails with ENODEV and drops its QP, CQ and
 * reference) and waits for the last reference before freeing the PD.
 * ib_core removes clients in reverse order of registration, so this runs
 * before rdma_cm's own removal, which then reports DEVICE_REMOVAL on the
 * sockets' rdma_cm ids.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include "afib.h"

static int afib_ib_add(struct ib_device *ibdev);
static void afib_ib_remove(struct ib_device *ibdev, void *client_data);

static struct ib_client afib_client = {
	.name	= "af_ib",
	.add	= afib_ib_add,
	.remove	= afib_ib_remove,
};

/* Live devices; a device leaves the list when its removal starts. */
static LIST_HEAD(afib_devices);
static DEFINE_MUTEX(afib_devices_lock);

static void afib_dev_release(struct kref *ref)
{
	struct afib_dev *dev = container_of(ref, struct afib_dev, ref);

	complete(&dev->done);
}

/**
 * afib_dev_get() - take a reference on the state of @ibdev.
 * @ibdev: an RDMA device.
 *
 * Return: the device state, or NULL if it is unknown or being removed.
 */
struct afib_dev *afib_dev_get(struct ib_device *ibdev)
{
	struct afib_dev *dev, *found = NULL;

	mutex_lock(&afib_devices_lock);
	list_for_each_entry(dev, &afib_devices, list) {
		if (dev->ibdev == ibdev) {
			kref_get(&dev->ref);
			found = dev;
			break;
		}
	}
	mutex_unlock(&afib_devices_lock);
	return found;
}

void afib_dev_put(struct afib_dev *dev)
{
	kref_put(&dev->ref, afib_dev_release);
}

/**
 * afib_dev_attach() - list @as among the users of @dev.
 * @dev: a device the caller holds a reference on, passed to @as.
 * @as: a socket that is about to create its QP.
 *
 * Return: 0, or -ENODEV if the device is going away.
 */
int afib_dev_attach(struct afib_dev *dev, struct afib_sock *as)
{
	int err = 0;

	mutex_lock(&dev->lock);
	if (dev->dead) {
		err = -ENODEV;
	} else {
		as->dev = dev;
		list_add_tail(&as->dev_node, &dev->socks);
	}
	mutex_unlock(&dev->lock);
	return err;
}

/* Drop @as from its device's list and release its device reference. */
void afib_dev_detach(struct afib_sock *as)
{
	struct afib_dev *dev = as->dev;

	if (!dev)
		return;
	mutex_lock(&dev->lock);
	list_del_init(&as->dev_node);
	as->dev = NULL;
	mutex_unlock(&dev->lock);
	afib_dev_put(dev);
}

static int afib_ib_add(struct ib_device *ibdev)
{
	struct afib_dev *dev;
	int err;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->ibdev = ibdev;
	kref_init(&dev->ref);
	mutex_init(&dev->lock);
	INIT_LIST_HEAD(&dev->socks);
	init_completion(&dev->done);
	dev->pd = ib_alloc_pd(ibdev, 0);
	if (IS_ERR(dev->pd)) {
		err = PTR_ERR(dev->pd);
		goto free_dev;
	}
	ib_set_client_data(ibdev, &afib_client, dev);
	mutex_lock(&afib_devices_lock);
	list_add_tail(&dev->list, &afib_devices);
	mutex_unlock(&afib_devices_lock);
	return 0;

free_dev:
	kfree(dev);
	return err;
}

static void afib_ib_remove(struct ib_device *ibdev, void *client_data)
{
	struct afib_dev *dev = client_data;
	struct afib_sock *as;

	mutex_lock(&afib_devices_lock);
	list_del(&dev->list);
	mutex_unlock(&afib_devices_lock);

	mutex_lock(&dev->lock);
	dev->dead = true;
	while ((as = list_first_entry_or_null(&dev->socks, struct afib_sock,
					      dev_node))) {
		/* Keep @as alive while it tears down; put below. */
		sock_hold(&as->sk);
		mutex_unlock(&dev->lock);
		afib_kill(as, ENODEV);
		/* afib_kill() detached @as, so the loop makes progress. */
		sock_put(&as->sk);
		mutex_lock(&dev->lock);
	}
	mutex_unlock(&dev->lock);

	afib_dev_put(dev);
	wait_for_completion(&dev->done);
	ib_dealloc_pd(dev->pd);
	kfree(dev);
}

int afib_ib_init(void)
{
	return ib_register_client(&afib_client);
}

void afib_ib_exit(void)
{
	ib_unregister_client(&afib_client);
}
